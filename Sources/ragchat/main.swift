print("ragchat")
